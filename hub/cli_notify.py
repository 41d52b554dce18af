"""`hub notify set|show|send-due`: how residents' notifications leave the hub."""
from __future__ import annotations

import time
from urllib.parse import urlparse

import click

from gatehouse.cli_common import fail, home_option, print_json, resolve_home
from hub import notify
from hub.cli_compound import open_compound as _open
from hub.notify_senders import (
    ENV_SECRET,
    ENV_SMS_KEY,
    Channel,
    NotifyConfig,
    describe,
    read_secret,
    secret_path,
    sms_key_path,
    store_secret,
)


@click.group("notify")
def notify_group() -> None:
    """Residents' notifications (pickup codes, group purchases): channel and delivery."""


def _url(url: str) -> str:
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fail(f"not an http(s) URL: {url}")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        click.echo("warning: plain http: phone numbers and pickup codes cross the network "
                   "unencrypted", err=True)
    return url


@notify_group.command("set")
@home_option
@click.option("--webhook", metavar="URL", help="POST signed JSON to this URL.")
@click.option("--sms-url", metavar="URL", help="An HTTP SMS gateway (with --sms-sign).")
@click.option("--sms-sign", metavar="NAME", help="The SMS signature registered, e.g. 示范小区.")
@click.option("--sms-form", is_flag=True, help="Form-encoded POST instead of JSON.")
@click.option("--sms-key", is_flag=True,
              help=f"Ask for a new SMS API key (kept 0600 in the home; or ${ENV_SMS_KEY}).")
@click.option("--file", "path", type=click.Path(dir_okay=False),
              help="Append messages as JSON lines to a file (demo, no network).")
@click.option("--off", is_flag=True, help="Send nothing (rows wait as pending).")
@click.option("--timeout", type=click.FloatRange(0.5, 60), default=5.0, show_default=True)
def notify_set(home, webhook, sms_url, sms_sign, sms_form, sms_key, path, off, timeout) -> None:
    """Choose how notifications are sent; secrets stay in the environment or 0600 files."""
    h = resolve_home(home)
    if sum(bool(x) for x in (webhook, sms_url, path, off)) != 1:
        fail("give one of --webhook, --sms-url, --file, --off")
    if webhook:
        config = NotifyConfig(Channel.WEBHOOK, url=_url(webhook), timeout=timeout)
        if not read_secret(ENV_SECRET, secret_path(h)):
            store_secret(secret_path(h))
            click.echo(f"new webhook secret in {secret_path(h)}: give it to the receiver",
                       err=True)
    elif sms_url:
        if not sms_sign:
            fail("--sms-url needs --sms-sign (the signature registered with the gateway)")
        config = NotifyConfig(Channel.SMS, url=_url(sms_url), sign=sms_sign, form=sms_form,
                              timeout=timeout)
        if sms_key or not read_secret(ENV_SMS_KEY, sms_key_path(h)):
            store_secret(sms_key_path(h), click.prompt("SMS API key", hide_input=True))
    elif path:
        config = NotifyConfig(Channel.FILE, path=str(click.format_filename(path)))
    else:
        config = NotifyConfig(Channel.OFF)
    notify.save_config(h, config)
    click.echo(f"notifications: {describe(config)}")


@notify_group.command("show")
@home_option
def notify_show(home) -> None:
    """The channel (no secrets), any problem with it, and the rows by state."""
    c = _open(home)
    problem = None
    try:
        config = notify.load_config(c.home)
        notify.sender_from_config(c.home)
    except notify.NotifyError as exc:
        config, problem = notify.NotifyConfig(), str(exc)
    print_json({**config.to_json(), "problem": problem, "counts": notify.counts(c.db)})
    c.db.close()


@notify_group.command("send-due")
@home_option
def notify_send_due(home) -> None:
    """One delivery pass now (what the hub's worker does every 5 s)."""
    c = _open(home)
    try:
        sender = notify.sender_from_config(c.home)
    except notify.NotifyError as exc:
        fail(str(exc))
    if sender is None:
        fail("notifications are off: `hub notify set --webhook URL` (or --sms-url, --file)")
    sent, failed = notify.deliver_due(c.db, sender, time.time())
    c.db.close()
    click.echo(f"sent {sent}, failed {failed}")
