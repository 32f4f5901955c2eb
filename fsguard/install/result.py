"""What an install/uninstall did or would do: the result object the CLI prints or dumps as JSON."""

from __future__ import annotations

import io
from dataclasses import dataclass, field


class InstallError(Exception):
    """Something failed while applying; everything was rolled back."""


class UserEdited(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__("; ".join(f"{f['path']}: {f['reason']}" for f in result.files if f["action"] == "conflict"))
        self.result = result


@dataclass
class Result:
    action: str
    kind: str
    root: str
    dry_run: bool = False
    changed: bool = False
    files: list[dict[str, str]] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    steps: list[dict[str, str]] = field(default_factory=list)
    diff: str = ""

    def text(self) -> str:
        out = io.StringIO()
        verb = "would change" if self.dry_run else "changed"
        n_files = sum(1 for f in self.files if f["action"] not in ("unchanged", "conflict"))
        out.write(f"fsguard {self.action} ({self.kind}, root {self.root}): {verb} {n_files} files, "
                  f"{len(self.rows)} rows, {len(self.tables)} tables\n")
        if self.dry_run and self.diff:
            out.write(self.diff)
        for f in self.files:
            if f["action"] == "conflict":
                out.write(f"  ! {f['path']}: {f['reason']}\n")
        for s in self.steps:
            out.write(f"  {s['status']:8} {s['name']}" + (f": {s['detail']}" if s["detail"] else "") + "\n")
        for n in self.notes:
            out.write(f"  note: {n}\n")
        if not self.changed and not self.dry_run:
            out.write("  nothing to do: already installed as planned\n" if self.action == "install" else "")
        return out.getvalue()
