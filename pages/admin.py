"""Administration (admins only): users, every workbook and run, disk usage by user, the
process's memory, the cleanup on demand and the audit trail. A thin view over services.admin."""

from __future__ import annotations

import streamlit as st

from services import admin
from ui.session import context, require_admin

actor = require_admin()
ctx = context()
st.title("Administration")

users_tab, data_tab, system_tab, audit_tab = st.tabs(
    ["Users", "Workbooks and runs", "Disk and memory", "Audit trail"])

with users_tab:
    users_table = st.empty()  # filled last, so it shows what the forms below just changed

    with st.form("create_user", clear_on_submit=True):
        st.subheader("Create a user")
        left, right = st.columns(2)
        username = left.text_input("Username", key="new_username")
        display_name = right.text_input("Name", key="new_name")
        email = left.text_input("Email", key="new_email")
        password = right.text_input("Password (at least 8 characters)", type="password",
                                    key="new_password")
        roles = st.multiselect("Roles", admin.ROLES, default=["analyst"], key="new_roles")
        if st.form_submit_button("Create user"):
            try:
                created = admin.create_user(ctx, actor, username, password, display_name, email,
                                            roles)
            except admin.StoreError as exc:
                st.error(str(exc))
            else:
                st.success(f"Created {created.username}.")

    users = {u.username: u for u in ctx.store.list_users(actor)}
    st.subheader("Change a user")
    chosen = users[st.selectbox("User", list(users), key="edit_user")]
    with st.form("edit_user_form"):
        new_roles = st.multiselect("Roles", admin.ROLES, default=list(chosen.roles),
                                   key=f"roles_{chosen.id}")
        disabled = st.checkbox("Disabled", value=chosen.disabled, key=f"disabled_{chosen.id}",
                               help="Enabling an account also unlocks it.")
        if st.form_submit_button("Save changes"):
            try:
                changes = admin.update_user(ctx, actor, chosen, new_roles, disabled)
            except admin.StoreError as exc:
                st.error(str(exc))
            else:
                st.success(f"{chosen.username}: {', '.join(changes)}." if changes
                           else "Nothing changed.")
    with st.form("reset_password_form", clear_on_submit=True):
        typed = st.text_input("New password (empty: a random one)", type="password",
                              key="reset_password")
        if st.form_submit_button("Reset password"):
            try:
                new_password = admin.reset_password(ctx, actor, chosen.id, typed)
            except admin.StoreError as exc:
                st.error(str(exc))
            else:
                st.success(f"The password of {chosen.username} is reset and the account "
                           "unlocked." + ("" if typed else " Pass the new password on; it is "
                                          "shown only now:"))
                if not typed:
                    st.code(new_password, language=None)
    users_table.dataframe(admin.user_rows(ctx, actor), hide_index=True, width="stretch")

with data_tab:
    st.subheader("All workbooks")
    st.dataframe(admin.workbook_rows(ctx, actor), hide_index=True, width="stretch")
    st.subheader("All runs")
    st.dataframe(admin.run_rows(ctx, actor), hide_index=True, width="stretch")

with system_tab:
    memory = admin.process_memory()
    left, right = st.columns(2)
    left.metric("Server memory now", admin.size(memory["current"]))
    right.metric("Server memory at its peak", admin.size(memory["peak"]))
    if st.button("Clean up now", key="cleanup_now",
                 help=f"Removes uploads older than {ctx.settings.retention_days:g} days that no "
                      "run needs, and leftover sample files."):
        report = admin.run_cleanup(ctx, actor)
        st.success(f"Cleanup done: {len(report.removed)} uploads removed "
                   f"({admin.size(report.freed_bytes)}), {len(report.stray_files)} leftover "
                   f"files, {len(report.kept_for_runs)} expired uploads kept for their runs.")
        for problem in report.problems:
            st.warning(problem)
    report = ctx.cleanup.last_report
    st.subheader("Disk usage by user")
    if report is None:
        st.info("No cleanup pass has measured the disk yet; press Clean up now.")
    else:
        st.caption(f"Measured by the cleanup at {report.ran_at:%Y-%m-%d %H:%M} UTC; all samples "
                   f"together: {admin.size(report.samples_bytes)}.")
        st.dataframe(admin.usage_rows(report), hide_index=True, width="stretch")

with audit_tab:
    limit = st.number_input("Entries", min_value=1, max_value=5000, value=200, step=100,
                            key="audit_limit")
    st.dataframe(admin.audit_rows(ctx, actor, int(limit)), hide_index=True,
                 width="stretch")
