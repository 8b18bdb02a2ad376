import { act, fireEvent, render, screen } from '@testing-library/react';
import { LiveChart } from './LiveChart';
import { StatusBadge } from './StatusBadge';
import { AnchorsTable } from './Tables';

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
});
