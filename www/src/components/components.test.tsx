import { act, fireEvent, render, screen } from '@testing-library/react';
import { Sparkline } from './Sparkline';
import { LiveChart } from './LiveChart';
import type { IngestCorridor } from '@/lib/api';
import type { CorridorRow } from '@/lib/dashboard';
import { EURC, INGEST, ingestRow, USDC } from '@/test/ingestFixture';
import { SourceLabel } from './Panels';
import { StatusBadge } from './StatusBadge';
import { AnchorsTable, CorridorsTable } from './Tables';

describe('StatusBadge', () => {
  it('counts down to the next reconnect attempt, one render per second', () => {
    vi.useFakeTimers({ now: 10_000 });
    try {
      render(<StatusBadge status={{ state: 'reconnecting', attempt: 2, nextAttemptAt: 13_000 }} onReconnect={() => undefined} />);
      expect(screen.getByTestId('connection-status').textContent).toBe('Reconnecting in 3 s');
      act(() => vi.advanceTimersByTime(1_000));
      expect(screen.getByTestId('connection-status').textContent).toBe('Reconnecting in 2 s');
      expect(screen.getByText('attempt 2')).toBeTruthy();
    } finally {
      vi.useRealTimers();
    }
  });

  it('offers a Reconnect button after giving up, and it calls connect', () => {
    const onReconnect = vi.fn();
    render(<StatusBadge status={{ state: 'gave_up', attempt: 5 }} onReconnect={onReconnect} />);
    expect(screen.getByTestId('connection-status').textContent).toBe('Gave up reconnecting');
    fireEvent.click(screen.getByRole('button', { name: 'Reconnect' }));
    expect(onReconnect).toHaveBeenCalledTimes(1);
  });

  it('says discreetly when the socket is another tab\'s (shareAcrossTabs)', () => {
    const { rerender } = render(<StatusBadge status={{ state: 'open', attempt: 0, connectionId: 'x', leader: false }} onReconnect={() => undefined} />);
    expect(screen.getByTestId('shared-via').textContent).toBe('live via another tab');
    rerender(<StatusBadge status={{ state: 'open', attempt: 0, connectionId: 'x', leader: true }} onReconnect={() => undefined} />);
    expect(screen.queryByTestId('shared-via')).toBeNull();
  });

  it('says Connected with no button while open', () => {
    render(<StatusBadge status={{ state: 'open', attempt: 0, connectionId: 'x' }} onReconnect={() => undefined} />);
    expect(screen.getByTestId('connection-status').textContent).toBe('Connected');
    expect(screen.queryByRole('button')).toBeNull();
  });
});

describe('AnchorsTable', () => {
  it('renders a hostile name as text, never as markup', () => {
    const hostile = '<img src=x onerror=alert(1)>';
    const { container } = render(<AnchorsTable rows={[{ id: 'a', name: hostile, reliability_score: 1, status: 'red', flash: 0 }]} />);
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('[data-col="name"]')!.textContent).toBe(hostile);
    expect(screen.getByText('Failing')).toBeTruthy();
  });
});

describe('Sparkline', () => {
  it('draws one vertex per point, and a dash when there is no history', () => {
    const points = [0, 1, 2].map((i) => ({ t: i * 10_000, successRate: 90 + i, volume: 1 }));
    const { container, rerender } = render(<Sparkline points={points} />);
    expect(screen.getByTestId('sparkline').getAttribute('data-points')).toBe('3');
    expect(container.querySelector('polyline')!.getAttribute('points')!.split(' ')).toHaveLength(3);
    rerender(<Sparkline points={[]} />);
    expect(container.querySelector('svg')).toBeNull();
    expect(container.textContent).toBe('—');
  });
});

describe('LiveChart', () => {
  it('draws one vertex per point plus the hold to now, and labels the latest value', () => {
    const points = [
      { t: 0, successRate: 90, volume: 10 },
      { t: 30_000, successRate: 95, volume: 20 },
    ];
    const { container } = render(<LiveChart points={points} metric="successRate" now={40_000} />);
    const vertices = container.querySelector('polyline')!.getAttribute('points')!.split(' ');
    expect(vertices).toHaveLength(3);
    expect(screen.getByTestId('chart-last').textContent).toBe('95.00%');
    expect(container.textContent).toContain('last minute');
  });

  it('shows volume in dollars when asked', () => {
    render(<LiveChart points={[{ t: 0, successRate: 90, volume: 1234.4 }]} metric="volume" now={0} />);
    expect(screen.getByTestId('chart-last').textContent).toBe('$1,234');
  });

  it('leaves the volume series empty for unpriced points and says why, while the success rate is still drawn', () => {
    const points = [
      { t: 0, successRate: 90, volume: null },
      { t: 1000, successRate: 95, volume: null },
    ];
    const { container, rerender } = render(<LiveChart points={points} metric="volume" now={2000} />);
    expect(container.querySelector('polyline')).toBeNull();
    expect(screen.getByTestId('chart-no-price').textContent).toContain('No USD price');
    rerender(<LiveChart points={points} metric="successRate" now={2000} />);
    expect(container.querySelectorAll('circle')).toHaveLength(2);
  });
});

const USDC_USDC = `${USDC}->${USDC}`;
const EURC_EURC = `${EURC}->${EURC}`;

/** Rows as the REST load gives them, with the totals of the server's fixture. */
const rowsOf = (ingest: IngestCorridor[]): CorridorRow[] =>
  ingest.map((r, i) => ({ id: `c${i}`, corridor_key: r.corridor_key, success_rate: r.window_24h.success_rate, volume_usd: r.window_24h.volume_usd, total_transactions: r.window_24h.attempts, flash: 0 }));

const byKey = (ingest: IngestCorridor[]) => Object.fromEntries(ingest.map((r) => [r.corridor_key, r]));

function cells(container: HTMLElement, key: string) {
  const row = container.querySelector(`[data-key="${key}"]`)!;
  const text = (col: string) => row.querySelector(`[data-col="${col}"]`)?.textContent ?? null;
  return { rate: text('success_rate'), volume: text('volume_usd'), unpriced: text('unpriced'), attempts: text('total_transactions'), failure: text('top_failure_reason') };
}

describe('CorridorsTable', () => {
  it('shows a priced Horizon corridor: success rate, USD volume, attempts, top failure reason', () => {
    const { container } = render(<CorridorsTable rows={rowsOf(INGEST)} onSelect={() => undefined} ingest={byKey(INGEST)} />);
    expect(cells(container, USDC_USDC)).toEqual({ rate: '50.00%', volume: '$10', unpriced: null, attempts: '2', failure: 'op_underfunded' });
    expect(screen.getByRole('columnheader', { name: 'Top failure' })).toBeTruthy();
    const failure = container.querySelector(`[data-key="${USDC_USDC}"] [data-col="top_failure_reason"]`)!;
    expect(failure.getAttribute('title')).toBe('failures in the last 24 h: op_underfunded 1');
  });

  it('says "no price" where the successes had no USD price, never $0, and a dash without failures', () => {
    const { container } = render(<CorridorsTable rows={rowsOf(INGEST)} onSelect={() => undefined} ingest={byKey(INGEST)} />);
    expect(cells(container, EURC_EURC)).toEqual({ rate: '100.00%', volume: 'no price', unpriced: null, attempts: '1', failure: '—' });
    expect(container.textContent).not.toContain('$0');
  });

  it('shows a partly priced volume with the count of unpriced successes', () => {
    const usdc = ingestRow(USDC_USDC);
    const partly: IngestCorridor = { ...usdc, window_24h: { ...usdc.window_24h, attempts: 4, successes: 3, unpriced: 2 } };
    const { container } = render(<CorridorsTable rows={rowsOf([partly])} onSelect={() => undefined} ingest={byKey([partly])} />);
    expect(cells(container, USDC_USDC)).toMatchObject({ volume: '$10', unpriced: '2 unpriced', attempts: '4' });
  });

  it('has no failure column and no "no price" for REST or demo rows, whatever their volume', () => {
    const rows = rowsOf(INGEST);
    const { container } = render(<CorridorsTable rows={rows} onSelect={() => undefined} />);
    expect(screen.queryByRole('columnheader', { name: 'Top failure' })).toBeNull();
    expect(cells(container, EURC_EURC)).toEqual({ rate: '100.00%', volume: '$0', unpriced: null, attempts: '1', failure: null });
    expect(screen.getByRole('columnheader', { name: 'Attempts' })).toBeTruthy();
  });

  it('gives a Horizon corridor the ingestion has no details for an empty failure cell', () => {
    const { container } = render(<CorridorsTable rows={rowsOf(INGEST)} onSelect={() => undefined} ingest={{}} />);
    expect(cells(container, USDC_USDC)).toEqual({ rate: '50.00%', volume: '$10', unpriced: null, attempts: '2', failure: '—' });
  });
});

describe('SourceLabel', () => {
  it.each([
    ['demo', 'Source: demo'],
    ['rest', 'Source: REST'],
    ['horizon-public', 'Source: Horizon public'],
    ['horizon-testnet', 'Source: Horizon testnet'],
  ])('names the source %s as "%s"', (source, text) => {
    render(<SourceLabel source={source} />);
    expect(screen.getByTestId('data-source').textContent).toBe(text);
  });

  it('shows nothing before /health has answered', () => {
    const { container } = render(<SourceLabel />);
    expect(container.textContent).toBe('');
  });
});
