"""Neuron models of the ventral stream (paper Section 4.6, Appendix A.1 and A.4; book Section 5).

Submodules (one idea each; import the one you need):

* :mod:`~signseg.neurons.recording` -- the recording format (:class:`Recording`: stimulus
  images, per-trial responses, neuron metadata) and its validation;
  :mod:`~signseg.neurons.formats` -- ``.npz`` and netCDF files;
  :mod:`~signseg.neurons.nwb` -- Neurodata Without Borders files (``pynwb``).
* :mod:`~signseg.neurons.insilico` -- stand-in neurons: units of a network that is not the
  encoding backbone, with Poisson trial noise, and a population with a planted answer.
* :mod:`~signseg.neurons.diverse_set` -- the diverseSet of stimuli (PCA + batched k-means).
* :mod:`~signseg.neurons.models` -- one-component PLS neuron models from the backbone's
  penultimate layer, and the readout that :func:`signseg.visualize.visualize` ablates.
* :mod:`~signseg.neurons.lasso` -- positive-only vs unconstrained Lasso over an L1 path.
* :mod:`~signseg.neurons.analysis` -- responses to each ablation condition's images, the
  z-scored population response, Dale-like input features.
* :mod:`~signseg.neurons.localization` -- pixel shuffling in random circles, relevant
  regions, background clearing.
"""

from .recording import AREAS, Recording

__all__ = ["AREAS", "Recording"]
