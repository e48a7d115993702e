"""Haystack recipes (the presets of niah generate): small JSON files that override base.json.

A top-level folder of the repository, installed as the data package niah.haystacks.
"""
