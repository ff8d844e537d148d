"""The war room: a live web page over one drill's journal, for the responders and their game master.

It keeps no state of its own: everything on the page is rebuilt from the journal (``view``), and every
button appends to the journal through the same validated path as ``gameday drill log`` (``actions``).
``app`` is the FastAPI application, ``server`` runs it (inside ``drill run --war-room`` or standalone via
``gameday war-room JOURNAL``).
"""
