"""Warning classes of fastdis."""


class DegenerateWarning(UserWarning):
    """A factor or code carries no information (e.g. a constant column) and was left out."""
