import { Feed } from './feed';

export default function Page() {
  return (
    <main>
      <h1>ssehub on Next.js</h1>
      <p>
        <code>app/events/route.ts</code> exports <code>GET = sse(hub)</code>; publish with{' '}
        <code>curl -X POST -H &quot;Authorization: Bearer $SSEHUB_TOKEN&quot; -H &quot;Content-Type: application/json&quot; -d &apos;{'{"data":"hi"}'}&apos; /api/broadcast</code>.
      </p>
      <Feed />
    </main>
  );
}
