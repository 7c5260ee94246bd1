"""The administration page: only admins get in; users are created, changed and unlocked there;
every user's workbooks and runs, disk usage, memory, cleanup and the audit trail show."""

from __future__ import annotations

from db.entities import MAX_FAILED_ATTEMPTS, Actor
from tests.app.conftest import PASSWORD, app_test, login


def _admin_page(user):
    return login(app_test("pages/admin.py"), user).run()


def test_an_analyst_opening_the_admin_page_sees_only_a_refusal(ctx, make_user):
    at = _admin_page(make_user("ann"))
    assert not at.exception
    assert [e.value for e in at.error] == ["This page is for administrators."]
    assert not at.title and not at.dataframe


def test_the_admin_sees_every_user_and_creates_one(ctx, admin, make_user):
    make_user("ann")
    at = _admin_page(admin)
    assert not at.exception and at.title[0].value == "Administration"
    users = at.dataframe[0].value
    assert list(users["username"]) == ["ann", "boss"]
    at.text_input(key="new_username").input("bob")
    at.text_input(key="new_name").input("Bob B.")
    at.text_input(key="new_password").input(PASSWORD)
    at.button(key="FormSubmitter:create_user-Create user").click().run()
    assert not at.exception and at.success[0].value == "Created bob."
    assert ctx.store.get_user("bob").roles == ("analyst",)
    assert "bob" in list(at.dataframe[0].value["username"])


def test_a_refused_change_is_a_message_not_a_traceback(ctx, admin):
    at = _admin_page(admin)
    at.text_input(key="new_username").input("boss")  # taken
    at.text_input(key="new_password").input(PASSWORD)
    at.button(key="FormSubmitter:create_user-Create user").click().run()
    assert not at.exception and "taken" in at.error[0].value
    at.selectbox(key="edit_user").select("boss")
    at.checkbox(key=f"disabled_{admin.id}").check()
    at.button(key="FormSubmitter:edit_user_form-Save changes").click().run()
    assert not at.exception and "no enabled admin" in at.error[0].value
    assert not ctx.store.get_user("boss").disabled


def test_disabling_and_unlocking_a_user(ctx, admin, make_user):
    ann = make_user("ann")
    for _ in range(MAX_FAILED_ATTEMPTS):
        ctx.store.verify_password("ann", "wrong password")
    assert ctx.store.get_user("ann").locked
    at = _admin_page(admin)
    assert "locked" in list(at.dataframe[0].value["status"])
    at.selectbox(key="edit_user").select("ann")
    at.run()
    at.button(key="FormSubmitter:reset_password_form-Reset password").click().run()
    new_password = at.code[0].value
    assert ctx.store.verify_password("ann", new_password) is not None  # unlocked, new password
    at.checkbox(key=f"disabled_{ann.id}").check()
    at.button(key="FormSubmitter:edit_user_form-Save changes").click().run()
    assert at.success[0].value == "ann: disabled."
    assert ctx.store.get_user("ann").disabled


def test_all_workbooks_runs_disk_memory_cleanup_and_audit_show(ctx, admin, make_user):
    ann = Actor.for_user(make_user("ann"))
    folder = ctx.uploads_dir / str(ann.user_id)
    folder.mkdir(parents=True)
    (folder / "abc.xlsx").write_bytes(b"x" * 2048)
    wb = ctx.store.add_workbook(ann, "model.xlsx", "abc", 2048, str(folder / "abc.xlsx"))
    ctx.store.create_run(ann, wb.id, {"inputs": {}, "outputs": []}, 1, 1000, "mc", "cpu", "t")
    at = _admin_page(admin)
    workbooks, runs = at.dataframe[1].value, at.dataframe[2].value
    assert list(workbooks["owner"]) == ["ann"] and list(workbooks["size"]) == ["2.00 KB"]
    assert list(runs["owner"]) == ["ann"] and list(runs["iterations"]) == ["1,000"]
    assert at.metric[0].value.endswith("MB")
    at.button(key="cleanup_now").click().run()
    assert not at.exception and at.success[0].value.startswith("Cleanup done: 0 uploads")
    usage = at.dataframe[3].value
    assert list(usage["user"]) == ["ann"] and list(usage["workbook files"]) == ["2.00 KB"]
    audit = at.dataframe[-1].value
    assert audit["action"].iloc[0] == "cleanup" and audit["who"].iloc[0] == "boss"
