import { describe, expect, it } from 'vitest';
import type { ObservedCertificate } from '../../lambdas/certificates/certificate';
import { classify, classifyAll } from '../../lambdas/certificates/classify';

const now = new Date('2026-12-02T12:00:00Z');
const thresholds = { criticalDays: 7, warningDays: 30 };
const inDays = (days: number) => new Date(now.getTime() + days * 86_400_000).toISOString();

const certificate = (overrides: Partial<ObservedCertificate> = {}): ObservedCertificate => ({
  source: 'acm',
  id: 'arn:aws:acm:eu-west-1:111122223333:certificate/1',
  name: 'shop.example.com',
  location: 'eu-west-1',
  notAfter: inDays(90),
  renewsAutomatically: true,
  inUseBy: [],
  problems: [],
  ...overrides,
});

describe('certificate classification', () => {
  it.each([
    [-1, 'expired'],
    [0, 'critical'],
    [6, 'critical'],
    [7, 'warning'],
    [29, 'warning'],
    [30, 'ok'],
  ] as const)('%i days to expiry is %s', (days, severity) => {
    // Half a day more, so the floor lands on `days`.
    const result = classify(certificate({ notAfter: inDays(days + 0.5) }), thresholds, now);
    expect(result.severity).toBe(severity);
    expect(result.daysToExpiry).toBe(days);
  });

  it('makes a far-off certificate critical when clients already fail on it', () => {
    const result = classify(
      certificate({
        problems: [{ code: 'hostname-mismatch', text: 'Serve a certificate for shop.example.com.' }],
      }),
      thresholds,
      now,
    );
    expect(result.severity).toBe('critical');
    expect(result.actions).toEqual(['Serve a certificate for shop.example.com.']);
  });

  it('makes one with a lesser problem (legacy TLS) a warning, not critical', () => {
    const result = classify(
      certificate({ problems: [{ code: 'legacy-tls', text: 'Disable TLS 1.0.' }] }),
      thresholds,
      now,
    );
    expect(result.severity).toBe('warning');
  });

  it('treats an unreachable endpoint, whose expiry is unknown, as critical', () => {
    const result = classify(
      certificate({
        source: 'endpoint',
        notAfter: undefined,
        problems: [{ code: 'unreachable', text: 'timeout' }],
      }),
      thresholds,
      now,
    );
    expect(result.severity).toBe('critical');
    expect(result.daysToExpiry).toBeUndefined();
  });

  it('says an imported ACM certificate must be re-imported, an ineligible one replaced, and a managed one that its validation must hold', () => {
    const imported = classify(
      certificate({
        notAfter: inDays(10),
        renewsAutomatically: false,
        problems: [{ code: 'imported', text: 'Re-import it before it expires.' }],
      }),
      thresholds,
      now,
    );
    expect(imported.actions[0]).toMatch(/never renews: import a renewed certificate/);
    const ineligible = classify(
      certificate({ notAfter: inDays(10), renewsAutomatically: false }),
      thresholds,
      now,
    );
    expect(ineligible.actions[0]).toMatch(/ACM will not renew it \(not eligible/);
    const managed = classify(certificate({ notAfter: inDays(10) }), thresholds, now);
    expect(managed.actions[0]).toMatch(/ACM renews it: check that its DNS validation records/);
    expect(classify(certificate(), thresholds, now).actions).toEqual([]);
  });

  it('orders the report worst first, then soonest to expire', () => {
    const ordered = classifyAll(
      [
        certificate({ id: 'ok', notAfter: inDays(200) }),
        certificate({ id: 'warning-late', notAfter: inDays(25) }),
        certificate({ id: 'expired', notAfter: inDays(-3) }),
        certificate({ id: 'warning-soon', notAfter: inDays(10) }),
        certificate({ id: 'critical', notAfter: inDays(2) }),
      ],
      thresholds,
      now,
    ).map((result) => result.id);
    expect(ordered).toEqual(['expired', 'critical', 'warning-soon', 'warning-late', 'ok']);
  });
});

describe('an imported certificate far from expiry', () => {
  it('is ok: that it never renews matters only once its expiry is near', () => {
    const now = new Date('2026-12-02T00:00:00Z');
    const far = classify(
      {
        source: 'acm',
        id: 'arn:aws:acm:eu-west-1:111122223333:certificate/imported',
        name: 'partner.example.com',
        notAfter: new Date(now.getTime() + 200 * 86_400_000).toISOString(),
        renewsAutomatically: false,
        inUseBy: [],
        problems: [{ code: 'imported', text: 'Re-import it before it expires.' }],
      },
      { criticalDays: 7, warningDays: 30 },
      now,
    );
    expect(far.severity).toBe('ok');
  });
});
