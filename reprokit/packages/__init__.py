"""Packages and inventories: database parsers, the model, the reader and the package diff."""
