"""Foundation: money, dates, errors, roles, CSV/import/export bases, API and PDF bases. Imports no app."""
