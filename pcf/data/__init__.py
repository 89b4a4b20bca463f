"""Bring your own data: LCI databases imported through bw2io, user factor libraries, and a browser over all datasets."""
