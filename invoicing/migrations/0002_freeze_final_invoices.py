"""PostgreSQL triggers: an approved (or later) invoice is frozen (SPEC 3).

- invoicing_invoice: once final, the money, number, dates, customer, currency, PO, e-mail,
  approval and PDF columns never change and it never goes back to draft/rejected or is deleted.
  Status may move forward (sent, partially_paid, paid), as may sent_at/sent_to,
  disputed/dispute_reason and updated_at. Approval itself is one UPDATE from a draft: allowed.
- invoicing_invoiceline, invoicing_entrybilling, invoicing_milestonebilling,
  invoicing_blockbilling: no INSERT, UPDATE or DELETE of a row whose invoice is final.

Errors use SQLSTATE 23514 (check_violation) so Django raises IntegrityError.
"""

from django.db import migrations

CHILD_TABLES = (
    "invoicing_invoiceline",
    "invoicing_entrybilling",
    "invoicing_milestonebilling",
    "invoicing_blockbilling",
)

FORWARD = [
    """
CREATE OR REPLACE FUNCTION invoicing_refuse_final_child() RETURNS trigger AS $$
DECLARE
  st text;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.invoice_id IS NOT NULL THEN
    SELECT status INTO st FROM invoicing_invoice WHERE id = OLD.invoice_id;
    IF st IS NOT NULL AND st NOT IN ('draft', 'rejected') THEN
      RAISE EXCEPTION 'invoice % is %: its % rows are frozen', OLD.invoice_id, st, TG_TABLE_NAME
        USING ERRCODE = '23514';
    END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.invoice_id IS NOT NULL THEN
    SELECT status INTO st FROM invoicing_invoice WHERE id = NEW.invoice_id;
    IF st IS NOT NULL AND st NOT IN ('draft', 'rejected') THEN
      RAISE EXCEPTION 'invoice % is %: no rows can be added to %', NEW.invoice_id, st, TG_TABLE_NAME
        USING ERRCODE = '23514';
    END IF;
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
""",
    """
CREATE OR REPLACE FUNCTION invoicing_invoice_frozen() RETURNS trigger AS $$
BEGIN
  IF OLD.status IN ('draft', 'rejected') THEN
    IF TG_OP = 'DELETE' THEN
      RETURN OLD;
    END IF;
    RETURN NEW;
  END IF;
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'invoice % is %: it cannot be deleted', OLD.number, OLD.status
      USING ERRCODE = '23514';
  END IF;
  IF NEW.status IN ('draft', 'rejected')
     OR NEW.number IS DISTINCT FROM OLD.number
     OR NEW.number_year IS DISTINCT FROM OLD.number_year
     OR NEW.number_seq IS DISTINCT FROM OLD.number_seq
     OR NEW.net IS DISTINCT FROM OLD.net
     OR NEW.tax IS DISTINCT FROM OLD.tax
     OR NEW.total IS DISTINCT FROM OLD.total
     OR NEW.account_id IS DISTINCT FROM OLD.account_id
     OR NEW.currency IS DISTINCT FROM OLD.currency
     OR NEW.po_number IS DISTINCT FROM OLD.po_number
     OR NEW.period IS DISTINCT FROM OLD.period
     OR NEW.invoice_date IS DISTINCT FROM OLD.invoice_date
     OR NEW.due_date IS DISTINCT FROM OLD.due_date
     OR NEW.billing_email IS DISTINCT FROM OLD.billing_email
     OR NEW.approved_by_id IS DISTINCT FROM OLD.approved_by_id
     OR NEW.approved_at IS DISTINCT FROM OLD.approved_at
     OR NEW.adjusted_by_id IS DISTINCT FROM OLD.adjusted_by_id
     OR NEW.pdf IS DISTINCT FROM OLD.pdf
     OR NEW.pdf_sha256 IS DISTINCT FROM OLD.pdf_sha256
  THEN
    RAISE EXCEPTION 'invoice % is %: it is frozen (credit it instead)', OLD.number, OLD.status
      USING ERRCODE = '23514';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
""",
    """
CREATE TRIGGER invoicing_invoice_frozen
  BEFORE UPDATE OR DELETE ON invoicing_invoice
  FOR EACH ROW EXECUTE FUNCTION invoicing_invoice_frozen();
""",
    *(
        f"""
CREATE TRIGGER {table}_frozen
  BEFORE INSERT OR UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION invoicing_refuse_final_child();
"""
        for table in CHILD_TABLES
    ),
]

BACKWARD = [
    *(f"DROP TRIGGER IF EXISTS {table}_frozen ON {table};" for table in CHILD_TABLES),
    "DROP TRIGGER IF EXISTS invoicing_invoice_frozen ON invoicing_invoice;",
    "DROP FUNCTION IF EXISTS invoicing_invoice_frozen();",
    "DROP FUNCTION IF EXISTS invoicing_refuse_final_child();",
]


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements:
            schema_editor.execute(sql, None)  # None: no %-parameter parsing (RAISE uses %)

    return run


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
