"""A reply on its way to the browser: the relay of upstream events, the live state, broadcasts, the
channel layer."""
