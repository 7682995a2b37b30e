"""Scorecards as data: validated, versioned, edited in the browser, applied to past calls
by a background re-score run that keeps each call's score before and after."""
