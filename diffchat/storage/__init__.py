"""Persistent stores: annotator votes and comparison items."""
from .items import Item, load_items
from .votes import Vote, VoteStore, default_db_path

__all__ = ["Item", "Vote", "VoteStore", "default_db_path", "load_items"]
