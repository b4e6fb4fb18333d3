"""Runs on disk: run folders, compiled runs, several seeds, presets, plots and the console
display; trpo.cli puts a command line on them."""
