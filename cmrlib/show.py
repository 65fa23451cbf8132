"""How the book's notebooks display a table: ``show.table(frame)``, without pandas' index column.

A results page reads like a paper: its tables have no 0, 1, 2, ... row numbers. A named index (a
``groupby`` result, ``provenance_frame``'s field names) becomes ordinary leading columns.
The numbers are rendered as pandas renders a DataFrame (same float formatting, so a frame rounded with
``.round(2)`` reads as before); every row is shown.
"""
from __future__ import annotations

import json

import pandas as pd


class Table:
    """A DataFrame displayed without its index: HTML for the book, plain text for terminals and diffs."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def _repr_html_(self) -> str:
        return self.frame.to_html(index=False, notebook=True, max_rows=None, max_cols=None)

    def __repr__(self) -> str:
        return self.frame.to_string(index=False, max_rows=None, max_cols=None)

    def _repr_mimebundle_(self, include=None, exclude=None):
        """HTML and text, and the rows as records in the output's metadata, so that a test can read an executed
        notebook's tables back (``cmrlib.review.inconsistencies``)."""
        records = json.loads(self.frame.to_json(orient="records", default_handler=str))
        return {"text/html": self._repr_html_(), "text/plain": repr(self)}, {"text/html": {"cmr_records": records}}


def table(frame) -> Table:
    """``frame`` (a DataFrame or Series) for display without the index column. A named index (a ``groupby``
    or ``set_index`` result) is kept as leading columns; an unnamed one (row numbers) is dropped."""
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"show.table needs a DataFrame or Series (got {type(frame).__name__})")
    named = any(name is not None for name in frame.index.names)
    frame = frame.reset_index() if named else frame
    # a name on the columns axis (e.g. after unstack) would be printed as a header cell without a column under it
    return Table(frame.rename_axis(columns=[None] * frame.columns.nlevels))
