"""Signing in in a real browser: the first-start link, sign-out, and the redirect of a page without a session."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.e2e.support import E2E_PASSWORD, E2E_USER, Console, sign_in


def test_first_start_link_signs_in_and_reaches_the_inbox(new_page: Callable[..., Page], server: Console):
    page = new_page(signed_in_as_e2e=False)
    page.goto(server.signin_link)
    page.wait_for_function("window.did_handshake === true")
    expect(page).to_have_url(f"{server.url}/account")
    expect(page.get_by_text("Signed in as admin (admin).")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("admin-password-1")
    page.get_by_label("New password again").fill("admin-password-1")
    page.get_by_role("button", name="Save password").click()
    expect(page).to_have_url(f"{server.url}/")
    expect(page.locator("header").get_by_role("button", name="Inbox")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    again = new_page(signed_in_as_e2e=False)
    again.goto(server.signin_link)  # single use
    expect(again).to_have_url(re.compile(r"/signin\?problem="))
    expect(again.get_by_text("this sign-in link is used or expired")).to_be_visible()


def test_sign_out_returns_to_sign_in(new_page: Callable[..., Page], server: Console):
    page = new_page(signed_in_as_e2e=False)
    sign_in(page, E2E_USER, E2E_PASSWORD)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    page.goto("/runs")
    expect(page).to_have_url(f"{server.url}/signin?next=%2Fruns")


def test_page_without_session_redirects_to_sign_in_and_back(new_page: Callable[..., Page], server: Console):
    page = new_page(signed_in_as_e2e=False)
    page.goto("/runs?status=failed")
    expect(page).to_have_url(f"{server.url}/signin?next=%2Fruns%3Fstatus%3Dfailed")
    page.wait_for_function("window.did_handshake === true")
    page.get_by_label("Name").fill(E2E_USER)
    page.get_by_label("Password").fill(E2E_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.url}/runs?status=failed")


def test_wrong_password_is_refused_with_a_message(new_page: Callable[..., Page], server: Console):
    page = new_page(signed_in_as_e2e=False)
    page.goto("/signin")
    page.wait_for_function("window.did_handshake === true")
    page.get_by_label("Name").fill("nobody-here")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Wrong name or password")).to_be_visible()
