"""One reply from start to final write: the plan, the calls to Claude, tools, titles, estimates,
liveness."""
