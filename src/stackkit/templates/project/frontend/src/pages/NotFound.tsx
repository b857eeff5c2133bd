import { Link } from "react-router";

export default function NotFound() {
  return (
    <div className="py-12 text-center">
      <h1 className="text-2xl font-semibold">Page not found</h1>
      <p className="mt-2 text-slate-600">There is nothing at this address.</p>
      <Link to="/" className="mt-6 inline-block font-medium text-indigo-600 hover:text-indigo-500">
        Back to the dashboard
      </Link>
    </div>
  );
}
