"""Sources: every transport an image can come from (engine, archives, OCI layouts), read
into an :class:`~reprokit.sources.image.Image`."""
