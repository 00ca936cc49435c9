"""The result store: records, statistics, the SQL database and pandas frames.

Deliberately empty of imports: ``import results`` loads neither SQLAlchemy nor pandas (and
never torch); import ``results.store``, ``results.frames`` or ``results.export`` as needed.
"""
