"""The ``voxref`` command line (``voxref --help``, or ``python -m voxref``)."""
