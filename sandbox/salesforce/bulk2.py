"""Bulk API 2.0: ingest jobs (CSV upload, UploadComplete, per-record result CSVs) and query jobs (locator paging)."""
from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import Response

from sandbox.salesforce import queryexec, soql
from sandbox.salesforce.errors import RecordError, SfRequestError
from sandbox.salesforce.rest import P, json_body
from sandbox.salesforce.schema import FieldDef, from_csv

if TYPE_CHECKING:
    from sandbox.salesforce import SalesforceEmulator

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
INGEST_OPERATIONS = {"insert", "update", "upsert", "delete", "hardDelete"}
QUERY_OPERATIONS = {"query", "queryAll"}
TRANSACTION_SIZE = 200  # Salesforce processes ingest data in chunks of 200 records per transaction
DEFAULT_MAX_RECORDS = 50_000
CSV_TYPE = "text/csv"
TERMINAL = {"JobComplete", "Failed", "Aborted"}


@dataclass
class Job:
    info: dict
    kind: str  # ingest | query
    uploads: list[bytes] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    successes: list[tuple[str, bool, list[str]]] = field(default_factory=list)
    failures: list[tuple[str, list[str]]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    processed: bool = False
    polls: int = 0
    query: soql.Query | None = None
    result_header: list[str] = field(default_factory=list)
    result_rows: list[list[str]] = field(default_factory=list)


def _job_error(message: str, status: int = 400, code: str = "INVALIDJOB") -> SfRequestError:
    return SfRequestError(status, code, message)


def _csv_text(header: list[str], rows: list[list[str]], delimiter: str = ",", line_end: str = "\n") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_end, quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _parse_upload(job: Job) -> str | None:
    """Read the uploaded CSV into header + rows; returns the job failure message, if any."""
    delimiter = DELIMITERS[job.info["columnDelimiter"]]
    line_ending = job.info["lineEnding"]
    for data in job.uploads:
        text = data.decode("utf-8-sig")
        if line_ending == "LF" and "\r\n" in text:
            return "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF"
        if line_ending == "CRLF" and "\n" in text.replace("\r\n", ""):
            return "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is CRLF"
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        rows = [r for r in rows if r != []]
        if not rows:
            return "InvalidBatch : Records not found"
        header, body = rows[0], rows[1:]
        if job.header and header != job.header:
            return "InvalidBatch : every upload of a job must have the same header row"
        job.header = header
        for number, row in enumerate(body, start=2):
            if len(row) != len(header):
                return (f"ClientInputError : row {number} has {len(row)} values but the header has "
                        f"{len(header)} columns")
        job.rows.extend(body)
    return None


def _columns(emulator: "SalesforceEmulator", job: Job) -> list[FieldDef] | str:
    obj = emulator.org.object(job.info["object"])
    fields = []
    for name in job.header:
        fdef = obj.field(name.strip())
        if fdef is None:
            return f"InvalidBatch : Field name not found : {name}"
        fields.append(fdef)
    if job.info["operation"] in ("delete", "hardDelete") and [f.name for f in fields] != ["Id"]:
        return "InvalidBatch : The 'delete' batch must contain only the 'Id' field"
    if job.info["operation"] in ("update",) and "Id" not in [f.name for f in fields]:
        return "InvalidBatch : Field name not found : Id"
    key = job.info.get("externalIdFieldName")
    if job.info["operation"] == "upsert" and key not in [f.name for f in fields]:
        return f"InvalidBatch : Field name not found : {key}"
    return fields


def process_ingest(emulator: "SalesforceEmulator", job: Job) -> None:
    """Apply every uploaded row in transactions of 200, recording per-record success or sf__Error."""
    job.processed = True
    failure = _parse_upload(job)
    columns = _columns(emulator, job) if failure is None else failure
    if isinstance(columns, str):
        job.info.update(state="Failed", errorMessage=columns)
        job.unprocessed = list(job.rows)
        return
    org = emulator.org
    obj = org.object(job.info["object"])
    operation = job.info["operation"]
    key_field = obj.field(job.info.get("externalIdFieldName") or "Id")

    key_name = key_field.name if operation == "upsert" else "Id"
    key_position = next((i for i, f in enumerate(columns) if f.name == key_name), None)

    def record_op(row: list[str], twice: set[str]):
        def run(stamp: str):
            values: dict[FieldDef, object] = {}
            for fdef, cell in zip(columns, row):
                if cell == "":
                    continue  # an empty cell leaves the field unchanged
                values[fdef] = from_csv(fdef, cell)
            record_id = next((v for f, v in values.items() if f.name == "Id"), None)
            if operation == "insert":
                return org.create(obj, values, stamp), True
            if operation == "update":
                if record_id is None:
                    raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", [])
                return org.update(obj, record_id, values, stamp, emulator.record_fault, twice), False
            if operation == "upsert":
                return org.upsert(obj, key_field, values, stamp, emulator.record_fault, twice)
            return org.delete(obj, record_id, stamp, emulator.record_fault, hard=operation == "hardDelete"), False
        return run

    for start in range(0, len(job.rows), TRANSACTION_SIZE):
        chunk = job.rows[start: start + TRANSACTION_SIZE]
        keys = [row[key_position] for row in chunk] if key_position is not None and operation in (
            "update", "upsert") else []
        twice = org.duplicated(keys, ids=key_name == "Id")
        outcomes = org.run_batch([record_op(row, twice) for row in chunk], all_or_none=False)
        for row, outcome in zip(chunk, outcomes):
            if outcome.success:
                job.successes.append((outcome.id, bool(outcome.created), row))
            else:
                job.failures.append((outcome.errors[0].as_bulk_text(), row))
    job.info.update(numberRecordsProcessed=len(job.rows), numberRecordsFailed=len(job.failures),
                    totalProcessingTime=len(job.rows) // 10, apiActiveProcessingTime=len(job.rows) // 20)


def process_query(emulator: "SalesforceEmulator", job: Job) -> None:
    job.processed = True
    rows = queryexec.run(job.query, emulator.org.records, include_deleted=job.info["operation"] == "queryAll")
    job.result_header, job.result_rows = queryexec.render_csv_rows(rows, job.query, emulator.org.records)
    job.info["numberRecordsProcessed"] = len(job.result_rows)


def advance(emulator: "SalesforceEmulator", job: Job) -> None:
    """Polling moves a closed job on: the first poll processes it (InProgress), later polls see it finished."""
    if job.info["state"] not in ("UploadComplete", "InProgress"):
        return
    if not job.processed:
        (process_ingest if job.kind == "ingest" else process_query)(emulator, job)
    if job.info["state"] == "Failed":
        return
    in_progress_polls = int(emulator.settings.get("bulk_in_progress_polls", 1))
    job.polls += 1
    job.info["state"] = "InProgress" if job.polls <= in_progress_polls else "JobComplete"


def add_bulk_routes(app: FastAPI, emulator: "SalesforceEmulator") -> None:
    def job_for(kind: str, job_id: str) -> Job:
        job = emulator.jobs.get(job_id)
        if job is None or job.kind != kind:
            raise SfRequestError(404, "NOT_FOUND", f"The requested resource does not exist: job {job_id}")
        return job

    @app.post(P + "/jobs/ingest")
    @app.post(P + "/jobs/ingest/")
    async def create_ingest(request: Request, version: str):
        body = await json_body(request)
        with emulator.lock:
            emulator.begin(request, version)
            if not isinstance(body, dict):
                raise _job_error("the job definition must be a JSON object")
            operation = body.get("operation")
            if operation not in INGEST_OPERATIONS:
                raise _job_error(f"InvalidJob : Invalid operation: {operation}; expected one of "
                                 f"{sorted(INGEST_OPERATIONS)}")
            obj = emulator.org.object(str(body.get("object", "")))
            if obj is None:
                raise _job_error(f"InvalidJob : Entity '{body.get('object')}' is not supported by the Bulk API.",
                                 code="INVALIDENTITY")
            external = body.get("externalIdFieldName")
            if operation == "upsert":
                key = obj.field(str(external or ""))
                if key is None or not (key.external_id or key.type == "id"):
                    raise _job_error(f"InvalidJob : The field {external} is not an external id field of {obj.name}; "
                                     "upsert needs externalIdFieldName")
                external = key.name
            line_ending = body.get("lineEnding", "LF")
            delimiter = body.get("columnDelimiter", "COMMA")
            if line_ending not in LINE_ENDINGS or delimiter not in DELIMITERS \
                    or body.get("contentType", "CSV") != "CSV":
                raise _job_error(f"InvalidJob : unsupported lineEnding {line_ending!r}, columnDelimiter "
                                 f"{delimiter!r} or contentType {body.get('contentType')!r}")
            job_id = emulator.org.new_id("750")
            stamp = emulator.org.next_stamp()
            info = {"id": job_id, "operation": operation, "object": obj.name, "createdById": "0058c00000A1b2CAAR",
                    "createdDate": stamp, "systemModstamp": stamp, "state": "Open",
                    "externalIdFieldName": external if operation == "upsert" else None,
                    "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": float(version[1:]),
                    "jobType": "V2Ingest", "contentUrl": f"services/data/{version}/jobs/ingest/{job_id}/batches",
                    "lineEnding": line_ending, "columnDelimiter": delimiter, "numberRecordsProcessed": 0,
                    "numberRecordsFailed": 0, "retries": 0, "totalProcessingTime": 0, "apiActiveProcessingTime": 0,
                    "apexProcessingTime": 0}
            emulator.jobs[job_id] = Job(info=info, kind="ingest")
            return info

    @app.put(P + "/jobs/ingest/{job_id}/batches")
    @app.put(P + "/jobs/ingest/{job_id}/batches/")
    async def upload(request: Request, version: str, job_id: str):
        data = await request.body()
        with emulator.lock:
            emulator.begin(request, version)
            job = job_for("ingest", job_id)
            if not request.headers.get("content-type", "").startswith(CSV_TYPE):
                raise SfRequestError(400, "INVALIDJOB", "Unsupported Content-Type; upload job data as text/csv")
            if job.info["state"] != "Open":
                raise SfRequestError(409, "INVALIDJOBSTATE", f"Job {job_id} is {job.info['state']}, not Open; "
                                                             "data can only be uploaded to an Open job")
            if not data.strip():
                raise SfRequestError(400, "INVALIDJOB", "The request body is empty; upload CSV data with a header row")
            job.uploads.append(data)
            request.state.records = max(data.count(b"\n") - 1, 0)
            return Response(status_code=201)

    @app.patch(P + "/jobs/{kind}/{job_id}")
    @app.patch(P + "/jobs/{kind}/{job_id}/")
    async def set_state(request: Request, version: str, kind: str, job_id: str):
        body = await json_body(request)
        with emulator.lock:
            emulator.begin(request, version)
            job = job_for(kind, job_id)
            wanted = body.get("state") if isinstance(body, dict) else None
            current = job.info["state"]
            if wanted == "UploadComplete" and kind == "ingest" and current == "Open":
                if not job.uploads:
                    job.info.update(state="Failed", errorMessage="InvalidBatch : Records not found")
                else:
                    job.info["state"] = "UploadComplete"
            elif wanted == "Aborted" and current in ("Open", "UploadComplete") and not job.processed:
                job.info["state"] = "Aborted"
                if kind == "ingest":
                    _parse_upload(job)
                    job.unprocessed = list(job.rows)
            else:
                raise SfRequestError(400, "INVALIDJOBSTATE",
                                     f"Can't change the state of job {job_id} from {current} to {wanted}")
            job.info["systemModstamp"] = emulator.org.next_stamp()
            return job.info

    @app.get(P + "/jobs/{kind}/{job_id}")
    @app.get(P + "/jobs/{kind}/{job_id}/")
    def get_job(request: Request, version: str, kind: str, job_id: str):
        with emulator.lock:
            emulator.begin(request, version)
            job = job_for(kind, job_id)
            advance(emulator, job)
            return job.info

    @app.delete(P + "/jobs/{kind}/{job_id}")
    @app.delete(P + "/jobs/{kind}/{job_id}/")
    def delete_job(request: Request, version: str, kind: str, job_id: str):
        with emulator.lock:
            emulator.begin(request, version)
            job = job_for(kind, job_id)
            if job.info["state"] not in TERMINAL | {"UploadComplete"} or (job.info["state"] == "UploadComplete"
                                                                          and job.processed):
                raise SfRequestError(400, "INVALIDJOBSTATE", f"Job {job_id} is {job.info['state']}; only a "
                                                             "finished or aborted job can be deleted")
            del emulator.jobs[job_id]
            return Response(status_code=204)

    @app.get(P + "/jobs/ingest")
    @app.get(P + "/jobs/ingest/")
    def list_ingest(request: Request, version: str):
        with emulator.lock:
            emulator.begin(request, version)
            return {"done": True, "nextRecordsUrl": None,
                    "records": [j.info for j in emulator.jobs.values() if j.kind == "ingest"]}

    def results(request: Request, version: str, job_id: str, which: str) -> Response:
        with emulator.lock:
            emulator.begin(request, version)
            job = job_for("ingest", job_id)
            if job.info["state"] not in TERMINAL:
                raise SfRequestError(400, "INVALIDJOBSTATE", f"Job {job_id} is {job.info['state']}; results are "
                                                             "available once it is JobComplete, Failed or Aborted")
            if which == "successful":
                rows = [[rid, "true" if created else "false", *row] for rid, created, row in job.successes]
                text = _csv_text(["sf__Id", "sf__Created", *job.header], rows)
            elif which == "failed":
                rows = [["", error, *row] for error, row in job.failures]
                text = _csv_text(["sf__Id", "sf__Error", *job.header], rows)
            else:
                text = _csv_text(job.header, job.unprocessed)
            request.state.records = text.count("\n") - 1
            return Response(text, media_type="text/csv; charset=UTF-8")

    @app.get(P + "/jobs/ingest/{job_id}/successfulResults")
    @app.get(P + "/jobs/ingest/{job_id}/successfulResults/")
    def successful(request: Request, version: str, job_id: str):
        return results(request, version, job_id, "successful")

    @app.get(P + "/jobs/ingest/{job_id}/failedResults")
    @app.get(P + "/jobs/ingest/{job_id}/failedResults/")
    def failed(request: Request, version: str, job_id: str):
        return results(request, version, job_id, "failed")

    @app.get(P + "/jobs/ingest/{job_id}/{name}")
    def unprocessed(request: Request, version: str, job_id: str, name: str):
        if name.rstrip("/").lower() != "unprocessedrecords":
            raise SfRequestError(404, "NOT_FOUND", "The requested resource does not exist")
        return results(request, version, job_id, "unprocessed")

    add_query_job_routes(app, emulator, job_for)


def add_query_job_routes(app: FastAPI, emulator: "SalesforceEmulator", job_for) -> None:
    @app.post(P + "/jobs/query")
    @app.post(P + "/jobs/query/")
    async def create_query(request: Request, version: str):
        body = await json_body(request)
        with emulator.lock:
            emulator.begin(request, version)
            if not isinstance(body, dict) or body.get("operation") not in QUERY_OPERATIONS:
                raise _job_error(f"InvalidJob : operation must be one of {sorted(QUERY_OPERATIONS)}")
            query = soql.check(soql.parse(str(body.get("query") or "")), emulator.org.objects)
            if query.count_only:
                raise SfRequestError(400, "API_ERROR", "Aggregate queries aren't supported by Bulk API 2.0 "
                                                       "query jobs: COUNT()")
            line_ending = body.get("lineEnding", "LF")
            delimiter = body.get("columnDelimiter", "COMMA")
            if line_ending not in LINE_ENDINGS or delimiter not in DELIMITERS:
                raise _job_error(f"InvalidJob : unsupported lineEnding {line_ending!r} or columnDelimiter "
                                 f"{delimiter!r}")
            job_id = emulator.org.new_id("750")
            stamp = emulator.org.next_stamp()
            info = {"id": job_id, "operation": body["operation"], "object": query.object_name,
                    "createdById": "0058c00000A1b2CAAR", "createdDate": stamp, "systemModstamp": stamp,
                    "state": "UploadComplete", "concurrencyMode": "Parallel", "contentType": "CSV",
                    "apiVersion": float(version[1:]), "jobType": "V2Query", "lineEnding": line_ending,
                    "columnDelimiter": delimiter, "numberRecordsProcessed": 0, "retries": 0,
                    "totalProcessingTime": 0}
            emulator.jobs[job_id] = Job(info=info, kind="query", query=query)
            return info

    @app.get(P + "/jobs/query/{job_id}/results")
    @app.get(P + "/jobs/query/{job_id}/results/")
    def query_results(request: Request, version: str, job_id: str, locator: str | None = None,
                      maxRecords: int | None = None):  # noqa: N803
        with emulator.lock:
            emulator.begin(request, version)
            job = job_for("query", job_id)
            if job.info["state"] != "JobComplete":
                raise SfRequestError(400, "INVALIDJOBSTATE", f"Job {job_id} is {job.info['state']}; query "
                                                             "results are available once it is JobComplete")
            if maxRecords is not None and maxRecords < 1:
                raise SfRequestError(400, "INVALIDJOB", f"maxRecords must be a positive integer, got {maxRecords}")
            start = 0
            if locator:
                try:
                    start = int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode())
                except ValueError:
                    raise SfRequestError(400, "INVALIDLOCATOR", f"invalid locator {locator!r}") from None
            size = maxRecords or DEFAULT_MAX_RECORDS
            chunk = job.result_rows[start: start + size]
            end = start + len(chunk)
            next_locator = base64.b64encode(str(end).encode()).decode().rstrip("=") if end < len(
                job.result_rows) else "null"
            delimiter = DELIMITERS[job.info["columnDelimiter"]]
            text = _csv_text(job.result_header, chunk, delimiter, LINE_ENDINGS[job.info["lineEnding"]])
            request.state.records = len(chunk)
            return Response(text, media_type="text/csv; charset=UTF-8",
                            headers={"Sforce-Locator": next_locator, "Sforce-NumberOfRecords": str(len(chunk))})
