import { Link, useLocation } from "react-router";
import { errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { CredentialsForm } from "../components/CredentialsForm";

export default function Register() {
  const { register } = useAuth();
  const location = useLocation();
  return (
    <CredentialsForm
      id="register"
      title="Create an account"
      submitLabel="Create account"
      busyLabel="Creating your account…"
      newPassword
      onSubmit={register}
      describe={(error, apiError) => {
        const email =
          apiError?.status === 409 ? "An account with this email already exists." : apiError?.fieldError("email");
        const password = apiError?.fieldError("password");
        const form =
          email || password ? null : apiError?.status === 403 ? "Registration is closed." : errorMessage(error);
        return { email, password, form };
      }}
      footer={
        <>
          Already registered?{" "}
          <Link to="/login" state={location.state} className="font-medium text-indigo-600 hover:text-indigo-500">
            Sign in
          </Link>
        </>
      }
    />
  );
}
