"""A photo uploaded from Chromium straight to an S3-protocol store (moto's server on
127.0.0.1), on a copy of the generated app with `STACKKIT_STORAGE_URL=s3://...`: the
browser posts the presigned form to the store, the app checks the bytes there, and the
note's page shows the thumbnail from a presigned link. The app's
Content-Security-Policy must let the page reach the store, and the bucket's CORS rules
must let the app's origin post to it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from botocore.config import Config
from botocore.session import get_session
from playwright.sync_api import Page, expect

from e2e.flows import register
from e2e.screenshots import Screenshots
from e2e.server import Account, GeneratedAppServer, served
from e2e.test_accessibility import check
from stackkit.testing import SAMPLE_PNG, S3Bucket, temporary_bucket


@pytest.fixture(scope="module")
def bucket(s3_server_url: str) -> Iterator[S3Bucket]:
    with temporary_bucket(s3_server_url, test_credentials=True) as made:
        yield made


@pytest.fixture(scope="module")
def s3_app(
    request: pytest.FixtureRequest, app_server: GeneratedAppServer, bucket: S3Bucket
) -> Iterator[GeneratedAppServer]:
    settings = {
        "STACKKIT_STORAGE_URL": f"s3://{bucket.name}",
        "STACKKIT_S3_ENDPOINT_URL": bucket.endpoint_url,
        "AWS_ACCESS_KEY_ID": bucket.access_key_id or "",
        "AWS_SECRET_ACCESS_KEY": bucket.secret_access_key or "",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    server = GeneratedAppServer(app_server.admin, settings=settings, copy_of=app_server.project)
    with served(server, request.config) as started:
        # As docs/files.md says to set it up: the app's origin may post and read.
        client = get_session().create_client(
            "s3", endpoint_url=bucket.endpoint_url, region_name="us-east-1",
            aws_access_key_id=bucket.access_key_id,
            aws_secret_access_key=bucket.secret_access_key,
            config=Config(s3={"addressing_style": "path"}),
        )  # fmt: skip
        client.put_bucket_cors(
            Bucket=bucket.name,
            CORSConfiguration={
                "CORSRules": [
                    {"AllowedOrigins": [started.url], "AllowedMethods": ["POST", "GET"],
                     "AllowedHeaders": ["*"], "MaxAgeSeconds": 3600},
                ]
            },
        )  # fmt: skip
        yield started


def test_a_photo_goes_from_the_browser_to_the_object_store(
    page: Page, account: Account, s3_app: GeneratedAppServer, screenshot: Screenshots
) -> None:
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    register(page, account, s3_app.url)
    page.goto(f"{s3_app.url}/r/notes/new")
    page.get_by_label(re.compile(r"^Title\b")).fill("A red square in a bucket")
    photo = page.get_by_label("Photo (optional)")
    photo.set_input_files({"name": "square.png", "mimeType": "image/png", "buffer": SAMPLE_PNG})
    expect(page.get_by_text("Attached: square.png.")).to_be_visible()
    store = s3_app.settings["STACKKIT_S3_ENDPOINT_URL"]
    assert any(url.startswith(store) for url in posts), posts  # the bytes went to the store
    page.get_by_role("button", name="Create", exact=True).click()

    expect(page).to_have_url(re.compile(r"/r/notes/\d+$"))
    thumbnail = page.get_by_role("img", name="square.png")
    expect(thumbnail).to_have_attribute("src", re.compile("^" + re.escape(store)))
    expect(thumbnail).to_have_js_property("complete", True)
    assert thumbnail.evaluate("image => image.naturalWidth") == 2
    # The file's link is the store's: it opens in a tab of its own, the app stays.
    note_address = page.url
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="square.png").click()
    opened.value.wait_for_load_state()
    assert opened.value.url.startswith(store), opened.value.url
    opened.value.close()
    assert page.url == note_address
    check(page, thumbnail)
    screenshot(page, "note with its photo from the store")
