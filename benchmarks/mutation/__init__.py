"""Mutation testing of GloziChat's rules: see README.md in this folder."""
