"""Persistent stores: annotator votes (SQLite or PostgreSQL), comparison items, annotator tokens."""
from .annotators import Annotators, load_annotators
from .items import Item, load_items
from .votes import PostgresVoteStore, Vote, VoteStore, clean_name, default_db, open_store

__all__ = ["Annotators", "Item", "PostgresVoteStore", "Vote", "VoteStore", "clean_name", "default_db",
           "load_annotators", "load_items", "open_store"]
