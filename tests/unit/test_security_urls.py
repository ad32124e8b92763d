"""``UrlPolicy``: which app and artifact URLs a deployment allows (``--allow-file-urls``, ``--url-hosts``)."""

from __future__ import annotations

import pytest

from elasticjob.security.urls import UrlPolicy, UrlRefused


def test_default_allows_http_and_https_from_any_host_and_no_archive() -> None:
    policy = UrlPolicy()
    for url in ("http://a.example/app.tgz", "https://10.0.0.1:8443/x.zip", "HTTPS://A.example/x", ""):
        assert policy.check(url) == url


def test_file_urls_need_the_flag_which_the_refusal_names() -> None:
    with pytest.raises(UrlRefused, match="--allow-file-urls"):
        UrlPolicy().check("file:///etc/shadow")
    assert UrlPolicy(allow_file=True).check("file:///srv/app.tgz") == "file:///srv/app.tgz"


@pytest.mark.parametrize("url", ["ftp://a.example/x", "gopher://a.example/x", "app.tgz", "//a.example/x"])
def test_other_schemes_are_refused_whatever_the_flags(url: str) -> None:
    with pytest.raises(UrlRefused, match="scheme must be one of http, https, file"):
        UrlPolicy(allow_file=True).check(url)


def test_host_list_takes_exact_names_and_subdomain_wildcards_without_ports() -> None:
    policy = UrlPolicy.from_flags(True, "Artifacts.example.com, *.internal")
    assert policy.hosts == frozenset({"artifacts.example.com", "*.internal"})
    for url in ("https://artifacts.example.com/a.tgz", "http://ARTIFACTS.example.com:8080/a.tgz",
                "http://repo.build.internal/a.tgz", "file:///srv/app.tgz"):
        assert policy.check(url) == url
    for url in ("https://example.com/a.tgz", "https://artifacts.example.com.evil.test/a.tgz",
                "http://internal/a.tgz", "http://evil-internal/a.tgz", "http://user@evil.test/@artifacts.example.com"):
        with pytest.raises(UrlRefused, match="is not in --url-hosts"):
            policy.check(url)


@pytest.mark.parametrize("hosts", ["", " , ", "a.example/path", "a.example:80", "a b"])
def test_malformed_host_lists_are_refused(hosts: str) -> None:
    with pytest.raises(ValueError, match="--url-hosts takes host names"):
        UrlPolicy.from_flags(False, hosts)
