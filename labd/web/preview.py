"""``/jobs/N/preview.jpg``: a small picture of a job's print-ready output, for the job page.

A customer's picture is personal data: it is made in memory for this one response (never
written to disk, never cached by the browser: ``Cache-Control: no-store``, as every page of
the console), and each time one is sent the look is journaled as ``web.personal_viewed``
with the web user's name and the output, as the job page journals the order reference.
Technicians may see it too (README, "Personal data on the pages"): they hold the prints in
their hands at the printer and the QC table, and a preview is how they match a print to its
job; the journal says who looked at which.  An output whose file is gone (retention,
erasure) or that is a PDF has no picture: the job page says so, and a request for it here
gets the same sentence on the error page, with nothing journaled (nothing was shown).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import structlog
from starlette.responses import Response

from labd.web.i18n import N_, _, gettext
from labd.web.pages import (
    no_preview,
    output_asked,
    output_path,
    personal_viewed,
    route_job,
)

if TYPE_CHECKING:
    from labd.web.app import Call, Console, Handler

log = structlog.get_logger(__name__)

_NOT_AN_IMAGE: Final = N_("its print file cannot be read as a picture")


def job_preview(console: Console, call: Call) -> Response:
    """The preview of output ``?output=N`` (the first when not given) as a JPEG."""
    from labd.convert.preview import NoPreview, Unpreviewable, thumbnail  # noqa: PLC0415  # Pillow and libvips load with the first preview, not with the console

    job = route_job(console, call)
    outputs = console.journal.outputs(job.id)
    output = output_asked(call, outputs, "output") or (outputs[0] if outputs else None)
    if output is None:
        said = _("Job %(job)s has no outputs yet: nothing to preview.", job=job.id)
        return console.error(call, 404, said)
    why = no_preview(console, job, output)
    picture = b""
    if why is None:
        try:
            picture = thumbnail(output_path(job, output))
        except NoPreview as e:
            # Deleted since the look above, or no picture after all.
            gone = e.why is Unpreviewable.GONE
            why = (no_preview(console, job, output) if gone else None) or gettext(_NOT_AN_IMAGE)
    if why is not None:
        said = _(
            "No preview of output %(seq)s of job %(job)s: %(why)s.",
            seq=output.seq,
            job=job.id,
            why=why,
        )
        return console.error(call, 404, said)
    personal_viewed(console, call, {"job": job.id, "preview": output.seq}, job_id=job.id)
    log.info("web.preview_sent", job_id=job.id, output=output.seq, by=call.user)
    return Response(picture, media_type="image/jpeg")


HANDLERS: Final[dict[tuple[str, str], Handler]] = {
    ("GET", "/jobs/{job_id:int}/preview.jpg"): job_preview,
}
