import { Link, useLocation } from "react-router";
import { useAuth } from "../auth/AuthContext";
import { CredentialsForm } from "../components/CredentialsForm";

export default function Login() {
  const { login } = useAuth();
  const location = useLocation();
  // After a sign-in, <GuestOnly> sends the user on to the page they came for.
  return (
    <CredentialsForm
      id="login"
      title="Sign in"
      submitLabel="Sign in"
      busyLabel="Signing in…"
      onSubmit={login}
      afterPassword={
        <Link to="/forgot-password" className="text-sm font-medium text-indigo-600 hover:text-indigo-500">
          Forgot your password?
        </Link>
      }
      footer={
        <>
          No account yet?{" "}
          <Link to="/register" state={location.state} className="font-medium text-indigo-600 hover:text-indigo-500">
            Create one
          </Link>
        </>
      }
    />
  );
}
