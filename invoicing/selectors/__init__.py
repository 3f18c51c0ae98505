"""Reads for invoicing, a package by concern (issue 13); the names are re-exported here, so
`from invoicing import selectors` reads as before.

- `common`: the billing group key, billed agreement types;
- `eligibility`: what a run may bill (the one SQL statement), due milestones and blocks, and
  whether an entry is invoiced (`entry_billing_q`, for timesheets through core.entry_billing)
  or a milestone billed (`milestone_billed_q`, for agreements through core.milestone_billing);
- `grouping`: the agreement tree, billing groups, the run snapshot and agreement terms;
- `inputs`: one invoice's pricing inputs (`group_inputs`) and the preview
  (`invoice_run_preview`);
- `batch`: the pricing inputs of a batch of groups in a fixed number of queries
  (`batch_group_inputs`, `open_drafts`), behind the run, `group_inputs` and the preview, so what
  the review screen previews is what a run writes;
- `review`: the review screen's reads (open amounts through core.settlement);
- `export`: every invoice with its lines and entry IDs.
"""

from invoicing.selectors.batch import (
    batch_group_inputs as batch_group_inputs,
)
from invoicing.selectors.batch import (
    open_drafts as open_drafts,
)
from invoicing.selectors.common import (
    BILLED_TYPES as BILLED_TYPES,
)
from invoicing.selectors.common import (
    MONEY_FIELD as MONEY_FIELD,
)
from invoicing.selectors.common import (
    GroupKey as GroupKey,
)
from invoicing.selectors.common import (
    period_end as period_end,
)
from invoicing.selectors.eligibility import (
    EntryRow as EntryRow,
)
from invoicing.selectors.eligibility import (
    due_blocks as due_blocks,
)
from invoicing.selectors.eligibility import (
    due_milestones as due_milestones,
)
from invoicing.selectors.eligibility import (
    eligible_entry_rows as eligible_entry_rows,
)
from invoicing.selectors.eligibility import (
    entry_billing_q as entry_billing_q,
)
from invoicing.selectors.eligibility import (
    milestone_billed_q as milestone_billed_q,
)
from invoicing.selectors.export import (
    invoice_export_rows as invoice_export_rows,
)
from invoicing.selectors.export import (
    invoices_for_export as invoices_for_export,
)
from invoicing.selectors.grouping import (
    AgreementTree as AgreementTree,
)
from invoicing.selectors.grouping import (
    RunSnapshot as RunSnapshot,
)
from invoicing.selectors.grouping import (
    TreeNode as TreeNode,
)
from invoicing.selectors.grouping import (
    agreement_tree as agreement_tree,
)
from invoicing.selectors.grouping import (
    billing_groups as billing_groups,
)
from invoicing.selectors.grouping import (
    load_terms as load_terms,
)
from invoicing.selectors.grouping import (
    run_snapshot as run_snapshot,
)
from invoicing.selectors.inputs import (
    ENTRY_FIELDS as ENTRY_FIELDS,
)
from invoicing.selectors.inputs import (
    GroupInputs as GroupInputs,
)
from invoicing.selectors.inputs import (
    PreviewInvoice as PreviewInvoice,
)
from invoicing.selectors.inputs import (
    group_inputs as group_inputs,
)
from invoicing.selectors.inputs import (
    invoice_run_preview as invoice_run_preview,
)
from invoicing.selectors.inputs import (
    open_draft as open_draft,
)
from invoicing.selectors.inputs import (
    unbilled_time_value as unbilled_time_value,
)
from invoicing.selectors.review import (
    drafts_for_period as drafts_for_period,
)
from invoicing.selectors.review import (
    flagged_entries as flagged_entries,
)
from invoicing.selectors.review import (
    invoice_with_lines as invoice_with_lines,
)
from invoicing.selectors.review import (
    invoices_for_period as invoices_for_period,
)
from invoicing.selectors.review import (
    latest_run as latest_run,
)
from invoicing.selectors.review import (
    period_counts as period_counts,
)
from invoicing.selectors.review import (
    rejected_for_period as rejected_for_period,
)
