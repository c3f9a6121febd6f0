# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's own certificate authority: a fresh CA per lab, server and client certificates.

Everything the emulators and the kubelet stand-ins serve over TLS is signed here, so the real SDK
clients verify it with a CA bundle (`connection_verify=<ca.pem>`, kubeconfig `certificate-authority`).
"""

from __future__ import annotations

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _write(path, data, private=False):
    with open(path, 'wb') as handle:
        handle.write(data)
    if private:
        os.chmod(path, 0o600)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


class LabCA:
    """A CA whose key and certificate live in `directory` (ca.pem / ca.key)."""

    def __init__(self, directory, key, cert):
        self.directory = directory
        self._key = key
        self.cert = cert
        self.cert_path = os.path.join(directory, 'ca.pem')

    @classmethod
    def create(cls, directory, common_name='aks.tunnel lab CA'):
        os.makedirs(directory, exist_ok=True)
        key = _key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        ca = cls(directory, key, cert)
        _write(ca.cert_path, cert.public_bytes(serialization.Encoding.PEM))
        _write(os.path.join(directory, 'ca.key'), _key_pem(key), private=True)
        return ca

    @classmethod
    def load(cls, directory):
        with open(os.path.join(directory, 'ca.pem'), 'rb') as handle:
            cert = x509.load_pem_x509_certificate(handle.read())
        with open(os.path.join(directory, 'ca.key'), 'rb') as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
        return cls(directory, key, cert)

    def _issue(self, basename, common_name, usage, dns_names=(), ip_addresses=(), organization=None):
        key = _key()
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if organization:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs)).issuer_name(self.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
        )
        sans = [x509.DNSName(name) for name in dns_names] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        cert_path = os.path.join(self.directory, basename + '.pem')
        key_path = os.path.join(self.directory, basename + '.key')
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        _write(key_path, _key_pem(key), private=True)
        return cert_path, key_path

    def issue_server_cert(self, basename, dns_names=('localhost',), ip_addresses=('127.0.0.1',)):
        """Server certificate with the given SANs; returns (cert_path, key_path)."""
        common_name = (list(dns_names) + list(ip_addresses))[0]
        return self._issue(basename, common_name, ExtendedKeyUsageOID.SERVER_AUTH, dns_names, ip_addresses)

    def issue_client_cert(self, basename, common_name, organization=None):
        """Client certificate (Kubernetes reads user = CN, group = O); returns (cert_path, key_path)."""
        return self._issue(basename, common_name, ExtendedKeyUsageOID.CLIENT_AUTH, organization=organization)
