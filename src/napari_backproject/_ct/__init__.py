"""CT internals behind the scikit-image-like facade :mod:`..tomography`.

* :mod:`.validate` -- input checks and scikit-image's float conversion;
* :mod:`.filters` -- the FBP ramp-type filters (short circular convolution);
* :mod:`.parallel` -- how many threads a call uses (from
  :mod:`.._threads`, never ``os.cpu_count()``);
* :mod:`.project` -- radon and FBP around their numba kernels;
* :mod:`.sart` -- SART set-up and its serial / two-thread orchestration;
* :mod:`.stacks` -- lazy (dask) stacks of slices;
* :mod:`.tuning` -- every measured tuning constant, with the machine and the
  numbers it came from.

Nothing here imports napari or Qt.
"""
