"""`Model.summary()` in a notebook: the same text `seqnet summary` prints, which Jupyter shows as
an HTML table (one row per node, shapes as written with the resolved ones on hover, parameters
and FLOPs right-aligned, the totals below). `Summary` is a `str`, so printing, comparing and
writing it to a file behave as before."""

from __future__ import annotations

from html import escape


class Summary(str):
    """The summary table as text, with the data behind it for `_repr_html_`."""

    data: dict

    def __new__(cls, text: str, data: dict):
        self = super().__new__(cls, text)
        self.data = data
        return self

    def _repr_html_(self) -> str:
        return summary_html(self.data)


def _num(n) -> str:
    return f'<td style="text-align:right">{n:,}</td>' if isinstance(n, int) else f"<td>{escape(str(n))}</td>"


def summary_html(data: dict) -> str:
    rows = []
    for r in data["nodes"]:
        shape = escape(r["shape"])
        if r.get("resolved") and r["resolved"] != r["shape"]:
            shape = f'<span title="{escape(r["resolved"])}">{shape}</span>'
        params = "-" if r.get("shared_with") else r["params"]
        note = r.get("tied") or (f"shares weights of {r['shared_with']}" if r.get("shared_with") else "")
        rows.append(
            f'<tr title="{escape(r.get("location") or "")}"><td><code>{escape(r["name"])}</code></td>'
            f"<td>{escape(r['op'])}</td><td><code>{shape}</code></td>{_num(params)}{_num(r.get('flops', 0))}"
            f"<td>{escape(str(note))}</td></tr>"
        )  # fmt: skip
    outputs = ", ".join(f"<code>{escape(k)}: {escape(v)}</code>" for k, v in data["outputs"].items())
    totals = (f"outputs: {outputs}<br>parameters: {data['total_params']:,} "
              f"({data['total_params'] * 4:,} bytes in float32)<br>"
              f"FLOPs per example: {data['flops_per_example']:,}<br>"
              f"activation memory per example: {data['activation_bytes_per_example']:,} bytes")  # fmt: skip
    head = "".join(f"<th>{h}</th>" for h in ("name", "op", "output shape", "params", "FLOPs", ""))
    return (f'<div class="seqnet-summary"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table><p>{totals}</p></div>")  # fmt: skip
