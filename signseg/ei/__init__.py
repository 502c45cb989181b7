"""Networks with excitatory and inhibitory cells, and their analyses (book Section 6).

Two related papers (``lateral-connections-ei-cnn.txt`` and
``ei-neurons-selectivity-connectivity.txt``), reproduced and then asked the main paper's
question:

* :mod:`~signseg.ei.lateral` -- F-CNN, LC-CNN (lateral loops) and LCEI-CNN (E and I lateral
  paths); :mod:`~signseg.ei.penalties` -- their weight-separation penalties and L1;
* :mod:`~signseg.ei.multicell` -- multi-cell convolutional RNNs (*Standard*, *StandardEI*,
  *InhPN*, *NoConstraint*);
* :mod:`~signseg.ei.registry` -- the zoo names these train under (``mnist_lccnn_loop3``);
* :mod:`~signseg.ei.sparsity`, :mod:`~signseg.ei.kernels` -- the lateral paper's analyses:
  feature-map sparsity, response distributions, afferent vs lateral kernels, E/I weights;
* :mod:`~signseg.ei.gratings`, :mod:`~signseg.ei.selectivity`, :mod:`~signseg.ei.connectivity`
  -- the multi-cell paper's gOSI, skewness and connection density per cell type;
* :mod:`~signseg.ei.populations` -- silencing a principal cell's inputs from E or from I cells;
* :mod:`~signseg.ei.experiments`, :mod:`~signseg.ei.figures` -- the chapter's experiments over
  networks and seeds (training recipes, per-network tables, CIs over networks) and figures.

Only :mod:`~signseg.ei.experiments` imports :mod:`signseg.zoo` (and, when it trains,
:mod:`signseg.train`); the zoo imports the registry, so this package imports neither.
"""

from . import lateral, multicell, penalties, registry

__all__ = ["lateral", "multicell", "penalties", "registry"]
