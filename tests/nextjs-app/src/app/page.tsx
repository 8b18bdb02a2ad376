import { CompatSnapshot } from '@/components/CompatSnapshot';
import { ConnectionPanel } from '@/components/ConnectionPanel';
import { LiveUpdates } from '@/components/LiveUpdates';
import { ManualControls } from '@/components/ManualControls';

export default function Page() {
  return (
    <main>
      <h1>Drop-in test app</h1>
      <ConnectionPanel />
      <LiveUpdates />
      <ManualControls />
      <CompatSnapshot />
    </main>
  );
}
