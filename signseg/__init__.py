"""signseg: feature segregation by signed weights, reproduced and extended.

Submodules (import the one you need; heavy dependencies load lazily):

* :mod:`signseg.data` — CIFAR-10, MNIST and the embedded procedural set.
* :mod:`signseg.zoo`, :mod:`signseg.train` — named models and deterministic training.
* :mod:`signseg.dale`, :mod:`signseg.dynamics` — the Dale index and weight dynamics.
* :mod:`signseg.ablation` — sign ablation by cumulative magnitude.
* :mod:`signseg.generators`, :mod:`signseg.evolve` — gradient-free feature visualization.
* :mod:`signseg.metrics` — similarity, LPIPS, objectness, spectra, statistics.
* :mod:`signseg.profiles`, :mod:`signseg.runner`, :mod:`signseg.book` — the book.
"""

__version__ = "0.1.0"
