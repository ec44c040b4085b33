"""Retention that runs itself: the sweeps that erase or anonymise data when the policy says its time is up."""
