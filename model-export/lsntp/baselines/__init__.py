"""The comparison systems of the paper's Tables 3 and 4, as recurrent cells of our encoder-decoder.

One module per system (its test beside it); kinds.py registers each as a `model.kind`. Every cell
has the interface of cells.py, so EncoderDecoder and the wrappers (PersistenceResidual,
Normalised) drive them unchanged, and each module's docstring states where the system had to be
fitted into that encoder-decoder. Shared pieces: sampling.py (bilinear warping, TrajGRU and the
deformable ConvLSTM), node_adaptive.py (AGCRN's graph convolution, AGCRN and DAGG-ConvLSTM).
What every system's test checks (training, export) is lsntp/system_checks.py, outside this folder:
the systems themselves import only cells.py and ls_conv.py.
"""
