import { lazy } from "react";
import { Route, Routes } from "react-router";
import { Layout } from "./components/Layout";
import { GuestOnly, RequireAuth } from "./components/RequireAuth";

// Each page is its own chunk: the login page loads only what it needs.
const Login = lazy(() => import("./pages/Login"));
const Register = lazy(() => import("./pages/Register"));
const ForgotPassword = lazy(() => import("./pages/ForgotPassword"));
const ResetPassword = lazy(() => import("./pages/ResetPassword"));
const VerifyEmail = lazy(() => import("./pages/VerifyEmail"));
const ConfirmEmail = lazy(() => import("./pages/ConfirmEmail"));
const Dashboard = lazy(() => import("./pages/Dashboard"));
const Profile = lazy(() => import("./pages/Profile"));
const ApiKeys = lazy(() => import("./pages/ApiKeys"));
const TwoFactor = lazy(() => import("./pages/TwoFactor"));
const AdminUsers = lazy(() => import("./pages/AdminUsers"));
const AdminJobs = lazy(() => import("./pages/AdminJobs"));
const AdminAudit = lazy(() => import("./pages/AdminAudit"));
const ResourceList = lazy(() => import("./pages/ResourceList"));
const ResourceDetail = lazy(() => import("./pages/ResourceDetail"));
const ResourceForm = lazy(() => import("./pages/ResourceForm"));
const NotFound = lazy(() => import("./pages/NotFound"));

export function App() {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route path="/login" element={<GuestOnly><Login /></GuestOnly>} />
        <Route path="/register" element={<GuestOnly><Register /></GuestOnly>} />
        <Route path="/forgot-password" element={<ForgotPassword />} />
        <Route path="/reset-password" element={<ResetPassword />} />
        <Route path="/verify-email" element={<VerifyEmail />} />
        <Route path="/confirm-email" element={<ConfirmEmail />} />
        <Route path="/" element={<RequireAuth><Dashboard /></RequireAuth>} />
        <Route path="/profile" element={<RequireAuth><Profile /></RequireAuth>} />
        <Route path="/api-keys" element={<RequireAuth><ApiKeys /></RequireAuth>} />
        <Route path="/two-factor" element={<RequireAuth><TwoFactor /></RequireAuth>} />
        <Route path="/admin/users" element={<RequireAuth><AdminUsers /></RequireAuth>} />
        <Route path="/admin/jobs" element={<RequireAuth><AdminJobs /></RequireAuth>} />
        <Route path="/admin/audit" element={<RequireAuth><AdminAudit /></RequireAuth>} />
        <Route path="/r/:name" element={<RequireAuth><ResourceList /></RequireAuth>} />
        <Route path="/r/:name/new" element={<RequireAuth><ResourceForm /></RequireAuth>} />
        <Route path="/r/:name/:id" element={<RequireAuth><ResourceDetail /></RequireAuth>} />
        <Route path="/r/:name/:id/edit" element={<RequireAuth><ResourceForm /></RequireAuth>} />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
