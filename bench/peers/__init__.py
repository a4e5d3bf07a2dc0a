"""Side by side with Icecast2 + DarkIce (and Snapcast): `python -m bench.peers`."""
