from __future__ import annotations

from django import forms

from core.csvio import max_import_bytes, size_text


class ImportUploadForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8, comma-separated, with a header row.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = max_import_bytes()
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {size_text(upload.size)}; the import limit is {size_text(limit)}."
            )
        if upload.size == 0:
            raise forms.ValidationError("The file is empty.")
        return upload
