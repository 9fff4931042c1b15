"""Figures for reports: PNG plots drawn from specs that the TypeScript report writes."""
