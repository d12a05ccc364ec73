"""Learned reranking of search candidates (issue 5): features, rankers, the serving stage.

Imports flow one way: this package uses ``indexer`` and ``evaluation``, never
``serving``; the serving tier wires it in (``serving/search/catalog_search.py``).
"""
