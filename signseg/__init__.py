"""signseg: feature segregation by signed weights, reproduced and extended.

Submodules (import the one you need; heavy dependencies load lazily):

* :mod:`signseg.data` — Tiny ImageNet-200 (with object boxes), CIFAR-10, MNIST and the
  embedded procedural set.
* :mod:`signseg.zoo` — named models, loaded (never trained); :mod:`signseg.runs` — training
  configurations and finished runs on disk; :mod:`signseg.train` — deterministic training
  (``train.load`` trains a missing project model, then loads it); :mod:`signseg.loops` —
  pieces the training loops share.
* :mod:`signseg.adversarial` — L-inf PGD / FGSM-RS attacks and robust accuracy;
  :mod:`signseg.simsiam`, :mod:`signseg.views` — SimSiam pretraining and its augmented views
  (the ``_linf<eps>`` and ``_simsiam`` regimes of the project ResNets).
* :mod:`signseg.comparisons`, :mod:`signseg.report` — Section 1's cross-model tables and the
  sentences the book decides from confidence intervals.
* :mod:`signseg.dale`, :mod:`signseg.dynamics` — the Dale index and weight dynamics.
* :mod:`signseg.ablation` — sign ablation by cumulative magnitude.
* :mod:`signseg.generators`, :mod:`signseg.evolve` — gradient-free feature visualization;
  :mod:`signseg.prior_training` — the learned (DeePSiM-style) image prior.
* :mod:`signseg.featureviz` — gradient feature visualization in Lucent's style (Fourier
  images, jitter/scale/rotate, Adam), and the same renders with torch-lucent itself.
* :mod:`signseg.metrics` — similarity, LPIPS, objectness, spectra, statistics.
* :mod:`signseg.neurons` — Section 5: recordings (NWB, ``.npz``, netCDF), in-silico stand-in
  neurons, diverseSet, PLS neuron models, Lasso, localization and background clearing.
* :mod:`signseg.ei` — networks with excitatory and inhibitory cells (LC-CNN, LCEI-CNN,
  multi-cell E-I recurrent networks; zoo models) and the related papers' measures.
* :mod:`signseg.profiles`, :mod:`signseg.runner`, :mod:`signseg.book` — the book.
"""

__version__ = "0.1.0"
