"""Excel in and out at the admin page: residents import from .xlsx with the CSV's preview
and line errors, every export as .xlsx with identifiers as text and the CSV's masking."""
from __future__ import annotations

import csv
import html
import io
import re
import zipfile

import openpyxl

from tests.conftest import ALICE_ID, BOB_ID, resident_ids
from tests.test_hub_web_app import (  # noqa: F401  (fixtures)
    NOW,
    app,
    as_user,
    attempt,
    post,
    ref_of,
    send,
    web_config,
)

HEADER = ["楼号", "单元", "房号", "姓名", "电话", "身份证号"]
ZERO_ROOMS = [["7", "2", "0301", "张三丰", "02112345678", ALICE_ID],
              [7, 2, "0302", "李四", 13900001111, BOB_ID]]   # numbers typed as numbers


def workbook(rows, header=HEADER) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(client, data: bytes, name="residents.xlsx", **form):
    return client.post("/residents/import", data={"csrf": client.csrf, "issue_passes": "on",
                                                  "file": (io.BytesIO(data), name), **form},
                       content_type="multipart/form-data")


def sheet(resp) -> list[list]:
    assert resp.status_code == 200, resp.status_code
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert resp.headers["Cache-Control"] == "no-store"
    ws = openpyxl.load_workbook(io.BytesIO(resp.get_data())).worksheets[0]
    return [[c.value for c in row] for row in ws.iter_rows()]


def cells(resp) -> list[list]:
    ws = openpyxl.load_workbook(io.BytesIO(resp.get_data())).worksheets[0]
    return [list(row) for row in ws.iter_rows()]


def csv_rows(resp) -> list[list[str]]:
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


def confirm(client, preview_html: str):
    text = re.search(r'name="csv_text" value="([^"]*)"', preview_html, re.S).group(1)
    return post(client, "/residents/import", csv_text=html.unescape(text), confirmed="yes",
                issue_passes="on")


def test_an_xlsx_import_round_trips_with_leading_zeros_and_the_csvs_masking(as_user, compound):
    client = as_user("office")
    preview = upload(client, workbook(ZERO_ROOMS))
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'id="import-preview"' in page
    assert "<td>7-2-0301</td><td>张*丰</td><td>021****5678</td>" in page
    assert compound.db["residents"].count == 0           # a preview writes nothing
    assert confirm(client, page).status_code == 302
    rooms = {r["household"]: r for r in compound.db["residents"].rows}
    assert set(rooms) == {"7-2-0301", "7-2-0302"}
    assert rooms["7-2-0301"]["phone"] == "02112345678"
    assert rooms["7-2-0302"]["phone"] == "13900001111"   # a number cell, read as typed

    xl, as_csv = sheet(client.get("/residents/export.xlsx")), csv_rows(
        client.get("/residents/export.csv"))
    assert xl[0] == as_csv[0]
    assert [[("" if v is None else v) for v in row] for row in xl[1:]] == as_csv[1:]
    by_room = {r[2]: r for r in xl[1:]}
    assert by_room["0301"][3] == "7-2-0301" and by_room["0301"][4] == "张*丰"
    assert by_room["0301"][5] == "021****5678"
    assert all(c.data_type == "s" for row in cells(client.get("/residents/export.xlsx"))
               for c in row if c.value is not None)

    full = as_user("admin").get("/residents/export.xlsx?full=1")
    rows = {r[2]: r for r in sheet(full)[1:]}
    assert rows["0301"][5] == "02112345678" and rows["0301"][4] == "张三丰"
    assert compound.db["audit"].count_where("action = 'residents.export_full'") == 1
    assert client.get("/residents/export.xlsx?full=1").status_code == 403


def test_a_bad_row_in_a_workbook_names_its_row_and_field_and_imports_nothing(as_user, compound):
    client = as_user("office")
    rows = [*ZERO_ROOMS, ["7", "2", "0303", "", "13700001111", resident_ids(1)[0]]]
    resp = upload(client, workbook(rows))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "第4行 line 4, name" in page and "未导入任何数据" in page
    assert compound.db["residents"].count == 0


def test_a_workbook_declaring_a_smaller_size_than_it_has_loses_no_row(as_user, compound):
    client = as_user("office")
    rows = [*ZERO_ROOMS, *[["8", "1", f"{i:02d}01", "王五", "", idn]
                           for i, idn in enumerate(resident_ids(5), 1)]]
    data = _rewrite_sheet(workbook(rows), lambda xml: re.sub(
        r'<dimension ref="[^"]*"', '<dimension ref="A1:B2"', xml))
    assert b'ref="A1:B2"' in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert confirm(client, upload(client, data).get_data(as_text=True)).status_code == 302
    assert compound.db["residents"].count == 7
    assert compound.db["residents"].count_where("household = '8-1-0501'") == 1


def test_an_id_number_excel_stored_as_a_number_is_refused_with_the_reason(as_user, compound):
    client = as_user("office")
    rows = [["7", "2", "0301", "张三丰", "13812341234", float(ALICE_ID)]]
    page = upload(client, workbook(rows)).get_data(as_text=True)
    assert "第2行 line 2, id_number" in page and "15" in page and "Excel" in page
    assert compound.db["residents"].count == 0


def _rewrite_sheet(data: bytes, change) -> bytes:
    """The workbook with its first sheet's XML passed through `change`."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = change(body.decode()).encode()
            dst.writestr(item, body)
    return out.getvalue()


def _with_cached_values(data: bytes, cached: dict[str, str]) -> bytes:
    """openpyxl saves formulas without their results; Excel saves both. Add results."""
    def change(text: str) -> str:
        for ref, value in cached.items():
            text = re.sub(rf'(<c r="{ref}"[^>]*>)<f>([^<]*)</f><v\s*/?>(</v>)?',
                          rf'\1<f>\2</f><v>{value}</v>', text)
        return text
    return _rewrite_sheet(data, change)


def test_formulas_are_read_as_their_saved_values_never_run(as_user, compound):
    client = as_user("office")
    rows = [["7", "2", "0301", "张三丰", '="138"&"12341234"', ALICE_ID],
            ["7", "2", "0302", "李四", "=WEBSERVICE(\"http://x/\")", BOB_ID]]
    data = _with_cached_values(workbook(rows), {"E2": "13812341234"})
    page = upload(client, data).get_data(as_text=True)
    assert "第3行 line 3, phone" in page and "公式" in page     # no saved value: an error
    assert "第2行" not in page                                  # the saved value is used
    assert compound.db["residents"].count == 0


def test_damaged_foreign_old_and_oversized_files_are_refused_clearly(as_user, compound):
    client = as_user("office")
    good = workbook(ZERO_ROOMS)
    for data, name, said in (
            (good[: len(good) // 2], "half.xlsx", "损坏"),
            (b"PK\x03\x04" + b"\0" * 100, "junk.xlsx", "损坏"),
            (b"\xd0\xcf\x11\xe0" + b"\0" * 100, "old.xls", ".xls"),
            (_bomb(), "bomb.xlsx", "解压后过大")):
        resp = upload(client, data, name)
        page = resp.get_data(as_text=True)
        assert resp.status_code == 422 and said in page, name
        assert 'data-field="file"' in page, name
    # the body made by hand: the test client would spool it to a file it never closes
    body = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.xlsx\""
            b"\r\n\r\n" + b"x" * (9 * 2**20) + b"\r\n--B--\r\n")
    resp = client.post("/residents/import", data=body,
                       content_type="multipart/form-data; boundary=B")
    assert resp.status_code == 413 and "文件超过8 MiB" in resp.get_data(as_text=True)
    assert compound.db["residents"].count == 0


def _bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b" " * (80 * 2**20))
    return out.getvalue()


def test_formula_like_texts_stay_text_in_both_formats(as_user, compound):
    admin = as_user("admin")
    evil = "=HYPERLINK(\"http://x\",\"点\")"
    out = io.StringIO()
    csv.writer(out).writerows([HEADER, ["7", "2", "0301", evil[:38], "13812341234", ALICE_ID],
                               ["7", "2", "0302", "+李四", "13900001111", BOB_ID]])
    assert post(admin, "/residents/import", csv_text=out.getvalue(),
                confirmed="yes").status_code == 302
    as_csv = {r[2]: r for r in csv_rows(admin.get("/residents/export.csv?full=1"))[1:]}
    assert as_csv["0301"][4] == "'" + evil[:38] and as_csv["0302"][4] == "'+李四"
    resp = admin.get("/residents/export.xlsx?full=1")
    by_room = {r[2].value: r for r in cells(resp)[1:]}
    for room, name in (("0301", evil[:38]), ("0302", "+李四")):
        cell = by_room[room][4]
        assert cell.value == name and cell.data_type == "s" and cell.quotePrefix
    sheet_xml = zipfile.ZipFile(io.BytesIO(resp.get_data())).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml


def test_audit_and_tracing_exports_as_xlsx_behind_login_and_permission(app, as_user, compound):
    stranger = app.test_client()
    for url in ("/residents/export.xlsx", "/audit.xlsx", "/tracing/export.xlsx?kind=visitors"):
        resp = stranger.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], url
    lead = as_user("lead")
    assert lead.get("/audit.xlsx").status_code == 403
    assert lead.get("/residents/export.xlsx").status_code == 403
    assert lead.get("/tracing/export.xlsx?kind=visitors").status_code == 403

    alice = ref_of(compound, ALICE_ID)
    send(compound, "north", [attempt(NOW - 600, "out", ref=alice, household="7-2-0301",
                                     name="张*丰")])
    observer = as_user("observer")
    rows = sheet(observer.get(f"/tracing/export.xlsx?kind=timeline&ref={alice}"))
    assert rows[0][:3] == ["at", "gate", "direction"]
    assert rows[1][6] == "7-2-0301" and rows[1][5] == "张*丰"
    assert rows[1][0].year == 2026          # a real date-time cell, in local time
    assert compound.db["audit"].count_where("action = 'trace.export'") == 1
    audit = sheet(as_user("admin").get("/audit.xlsx?action=login"))
    assert audit[0][:2] == ["id", "at"] and len(audit) > 1
    assert all(r[4] == "login" and isinstance(r[0], int) for r in audit[1:])
