"""The GloziChat desktop client: a Tk view over a Tk-free view-model and protocol."""
