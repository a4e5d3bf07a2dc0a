"""Broadcaster: a microphone, live, in every browser on the network."""
