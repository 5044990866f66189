"""CT internals behind the public facade (see ``napari_backproject.tomography``)."""
